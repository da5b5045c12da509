/// The rule for customer names: short, lower-case, safe in a shell, a file name, a tag and a metric label.
public enum CustomerName {
    public static let maxLength = 40

    /// nil when `name` is acceptable, else what is wrong with it and how to fix it.
    public static func problem(with name: String) -> String? {
        if name.isEmpty { return "is empty; use a short lower-case name such as acme" }
        if name.count > maxLength { return "is \(name.count) characters; use at most \(maxLength)" }
        let allowed = name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
        guard allowed, let first = name.first, first.isLowercase, name.last != "-" else {
            return "\"\(name)\" is not a valid name: use lower-case letters, digits and '-', starting with a letter and not ending with '-' (e.g. acme-prod)"
        }
        return nil
    }
}
