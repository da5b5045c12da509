/// AWS-shaped random identifiers.
enum SimulatorIdentifiers {
    /// `prefix-` and 17 lower-case hex digits, like `vpce-0123456789abcdef0`.
    static func make(_ prefix: String) -> String {
        "\(prefix)-\(hex(17))"
    }

    static func hex(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        return String((0..<count).map { _ in digits[Int(generator.next(upperBound: UInt8(16)))] })
    }
}
