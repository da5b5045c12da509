// AWS's models and `Timestamp` are part of what the planner's callers use.
@_exported import AWSModels
