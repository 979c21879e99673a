package vault

// Knows reports whether the vault holds the key named id (the current one or
// one of the older ones it still opens).
func (v *Vault) Knows(id string) bool {
	_, ok := v.aeads[id]
	return ok
}
