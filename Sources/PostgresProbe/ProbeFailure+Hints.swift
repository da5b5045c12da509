// Step numbers refer to the customer's setup guide: 1 the Resource Gateway's security group (egress),
// 2 the Resource Gateway, 3 the RDS security group's ingress rule, 4 the resource configuration
// (DNS name, port), 5 the RAM share.
extension ProbeFailure {
    /// A failure of `kind` while probing `target`, with the hint that goes with it.
    init(_ kind: Kind, _ message: String, target: ProbeTarget, sqlState: String? = nil) {
        self.init(kind: kind, message: message,
                  hint: Self.hint(for: kind, target: target, sqlState: sqlState), sqlState: sqlState)
    }

    /// The customer-side cause to check for a failure of `kind`.
    static func hint(for kind: Kind, target: ProbeTarget, sqlState: String?) -> String {
        let port = target.port
        let user = target.credentials?.user ?? "the probe role"
        let database = target.credentials?.database ?? "postgres"
        switch kind {
        case .dnsNoSuchName:
            return "The endpoint's DNS name does not resolve from this host: turn on enableDnsSupport and "
                + "enableDnsHostnames in this host's VPC and private DNS on the VPC endpoint; if the endpoint "
                + "was deleted or replaced, let the reconciler refresh its DNS name."
        case .dnsNoAnswer:
            return "The endpoint's DNS name exists but has no addresses: check that the VPC endpoint is "
                + "Available, that private DNS is enabled on it, and that this host's VPC has enableDnsSupport "
                + "and enableDnsHostnames on."
        case .dnsTimeout, .dnsFailed:
            return "This host's DNS resolver did not answer: check that /etc/resolv.conf points at the VPC "
                + "resolver (the VPC CIDR base + 2), that enableDnsSupport is on in this host's VPC, and that "
                + "outbound DNS is not blocked."
        case .connectTimeout:
            return "Nothing answered the TCP connection on port \(port): the RDS security group must admit the "
                + "Resource Gateway's security group on TCP \(port) (setup step 3; a CIDR rule is not enough), and "
                + "the Resource Gateway security group's outbound rules must allow TCP \(port) to the RDS "
                + "security group (step 1)."
        case .connectRefused, .connectReset:
            return "Nothing is listening on port \(port) at the RDS host: check that the port in the resource "
                + "configuration (step 4) is the RDS instance's port, and that the instance is running (not "
                + "stopped or being replaced)."
        case .connectUnreachable:
            return "This host has no route to the endpoint's address: check this host's subnet route table "
                + "and network ACLs, and that the VPC endpoint is Available in this host's VPC."
        case .connectFailed:
            return "The TCP connection to the endpoint failed: check that the VPC endpoint is Available and "
                + "that this host's security group allows outbound TCP \(port) to it."
        case .notPostgres:
            return "Something other than PostgreSQL answers on port \(port): the resource configuration (step 4) "
                + "points at the wrong port or host, or it is an IP-address resource whose IP now belongs to "
                + "another machine after an RDS failover; recreate it as a DNS resource naming the RDS endpoint "
                + "hostname."
        case .postgresTimeout:
            return "The connection opened but nothing answered PostgreSQL's SSLRequest: check that the resource "
                + "configuration (step 4) names the RDS endpoint hostname (a DNS resource, not an IP) and the "
                + "RDS port, and that the RDS security group admits the Resource Gateway's security group "
                + "(step 3)."
        case .earlyClose:
            return "The connection was accepted but closed before PostgreSQL answered, which usually means the "
                + "Resource Gateway cannot reach RDS: the RDS security group must admit the gateway's security "
                + "group on TCP \(port) (step 3) and the gateway's egress must allow it (step 1); also check the "
                + "resource configuration's host and port (step 4) and that the instance is running."
        case .passwordFileUnreadable:
            let path = target.credentials?.passwordFile ?? "the password file"
            return "Put the probe role's password in \(path) (one line, readable by the daemon's user), or "
                + "remove this customer's probe credentials to probe without logging in."
        case .loginRejected:
            switch sqlState {
            case "28P01":
                return "PostgreSQL rejected the password for role \"\(user)\" (or the role does not exist; the "
                    + "server does not say which): have the customer run ALTER ROLE \(user) WITH LOGIN PASSWORD "
                    + "'…' (or CREATE ROLE … LOGIN PASSWORD '…'), and store that password in the password file."
            case "28000":
                return "PostgreSQL refused role \"\(user)\" before any password check: the role does not exist "
                    + "or lacks LOGIN (CREATE ROLE \(user) LOGIN PASSWORD '…' / ALTER ROLE \(user) LOGIN), or no "
                    + "pg_hba rule admits it (on RDS: the role is in rds_iam, or rds.force_ssl demands TLS)."
            default:
                return "PostgreSQL refused the login: check the role name and password the customer gave us."
            }
        case .databaseMissing:
            return "Database \"\(database)\" does not exist: have the customer create it, or configure the "
                + "probe to open an existing database such as postgres."
        case .loginTimeout:
            return "PostgreSQL answered but login and SELECT 1 did not finish in time: the instance may be "
                + "overloaded, out of connections (max_connections) or out of storage; check its CloudWatch "
                + "metrics and RDS events."
        case .loginFailed:
            switch sqlState {
            case "53300":
                return "PostgreSQL has no free connection slots: have the customer raise max_connections in the "
                    + "parameter group or close idle connections."
            case "57P03":
                return "PostgreSQL is starting, stopping or recovering: check the RDS instance's events."
            case "42501":
                return "Role \"\(user)\" may not connect to \"\(database)\": have the customer run GRANT CONNECT "
                    + "ON DATABASE \(database) TO \(user)."
            default:
                return "Login failed after PostgreSQL answered: TLS or protocol errors point at something "
                    + "other than RDS behind the resource configuration (step 4: the RDS hostname and port)."
            }
        case .cancelled:
            return "The probe was cancelled (the daemon is stopping); it says nothing about the database."
        case .probeUnavailable:
            return "This daemon could not start a thread for the probe (its thread or task limit, e.g. systemd's TasksMax: "
                + "systemctl show privatelink-consumer -p TasksMax,TasksCurrent); it says nothing about the database."
        default:
            return genericHint
        }
    }

    /// The hint of a kind without one of its own (there should be none).
    static let genericHint = "Check the endpoint and the customer's resource configuration (step 4)."
}
