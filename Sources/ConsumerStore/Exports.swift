// The store reads and writes the records of `ConsumerCore` (customers, endpoint generations, invitations)
// and takes its compare-and-set requests: they are this module's API.
@_exported import ConsumerCore
