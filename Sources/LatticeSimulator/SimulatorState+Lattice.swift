extension SimulatorState {
    /// GetResourceConfiguration by `rcfg-…` id or ARN (already percent-decoded).
    ///
    /// Only configurations in an active share are found; one configured unreadable answers
    /// `AccessDeniedException`, as shared configurations often do for the consumer account.
    func resourceConfiguration(identifier: String) throws(SimulatorAPIError) -> SimulatedResourceConfiguration {
        let isId = identifier.hasPrefix("rcfg-") && identifier.count == 22
        let isArn = identifier.hasPrefix("arn:") && identifier.contains(":vpc-lattice:")
            && identifier.contains(":resourceconfiguration/rcfg-")
        guard isId || isArn else {
            throw SimulatorAPIError(400, "ValidationException",
                                    "1 validation error detected: Value '\(identifier)' at 'resourceConfigurationIdentifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((rcfg-[0-9a-z]{17})|(arn:[a-z0-9\\-]+:vpc-lattice:[a-zA-Z0-9\\-]+:\\d{12}:resourceconfiguration/rcfg-[0-9a-z]{17}))")
        }
        let configuration = isArn
            ? resourceConfigurations[identifier]
            : resourceConfigurations.values.first { $0.id == identifier }
        guard let configuration, resourceVisibility(configuration.arn) != .notShared else {
            throw SimulatorAPIError(404, "ResourceNotFoundException", "Resource configuration \(identifier) not found.")
        }
        guard configuration.isReadable else {
            throw SimulatorAPIError(403, "AccessDeniedException",
                                    "User: arn:aws:sts::\(accountId):assumed-role/privatelink-consumer is not authorized to perform: vpc-lattice:GetResourceConfiguration on resource: \(configuration.arn)")
        }
        return configuration
    }
}
