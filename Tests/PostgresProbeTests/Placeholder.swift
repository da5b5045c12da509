import Testing

// The PostgreSQL probe suites arrive with the probe issue (#6).
