/// `check-config`: a short summary of what was loaded, for ops after editing the file.
public enum CheckConfigCommand {
    public static func summary(of config: ConsumerConfig) -> String {
        var lines = ["config \(config.source): ok"]
        switch config.state {
        case .sqlite(let path):
            lines.append("  state database    \(path)")
        case .postgres(let postgres):
            lines.append("  state database    \(postgres) (PostgreSQL, tls \(postgres.tls.rawValue), lease \(postgres.leaseSeconds) s)")
        }
        lines.append("  health log        \(config.healthLog)")
        lines.append("  poll / probe      every \(format(config.pollIntervalSeconds)) s / every \(format(config.probeIntervalSeconds)) s")
        lines.append("  probe             timeout \(format(config.probe.timeoutSeconds)) s, concurrency \(config.probe.concurrency)")
        lines.append("  unmatched shares  \(config.unmatchedInvitations.rawValue)")
        lines.append("  metrics           \(config.metrics.map { "http://\($0.host.contains(":") ? "[\($0.host)]" : $0.host):\($0.port)/metrics" } ?? "off")")
        for name in config.regionNames {
            let region = config.regions[name]!
            lines.append("  region \(name)  \(region.ipAddressType.rawValue), private DNS \(region.privateDnsEnabled ? "on" : "off")"
                         + (region.vpcs.count > 1 ? ", a pool of \(region.vpcs.count) VPCs (filled in this order)" : ""))
            for vpc in region.vpcs {
                lines.append("    \(vpc.vpcId), subnets \(vpc.subnetIds.joined(separator: ",")), security groups \(vpc.securityGroupIds.joined(separator: ","))"
                             + (vpc.maxEndpoints.map { ", at most \($0) endpoints" } ?? ""))
            }
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
