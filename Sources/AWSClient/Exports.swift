// The value types of the AWS APIs (endpoints, invitations, shared resources) are part of this client's API;
// they live in `AWSModels` so that pure decision code can use them without NIO or HTTP.
@_exported import AWSModels
