package commands

// PendingCommands counts the commands waiting for property pid in h.
func PendingCommands(h Handlers, pid string) int {
	h.exec.cache.mu.Lock()
	a := h.exec.cache.byID[pid]
	h.exec.cache.mu.Unlock()
	if a == nil {
		return 0
	}
	a.qmu.Lock()
	defer a.qmu.Unlock()
	return len(a.pending)
}
