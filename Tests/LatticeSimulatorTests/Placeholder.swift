import Testing

// The simulator suites arrive with the clients issue (#4).
