/// An error a simulated service answers with: HTTP status, AWS error code and message.
struct SimulatorAPIError: Error, Sendable, Equatable {
    var status: Int
    var code: String
    var message: String

    init(_ status: Int, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
}
