/// The default region, as the SDKs find it: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, IMDS.
public enum RegionResolver {
    public static func defaultRegion(environment: [String: String], transport: any HTTPTransport,
                                     imdsTimeout: Duration = .seconds(1)) async -> String? {
        for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if let region = environment[variable], !region.isEmpty { return region }
        }
        if let region = SharedConfigFiles(environment: environment).settings["region"], !region.isEmpty {
            return region
        }
        return await IMDSClient(environment: environment, transport: transport, timeout: imdsTimeout).region()
    }
}
