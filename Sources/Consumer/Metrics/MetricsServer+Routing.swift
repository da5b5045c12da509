import Foundation
import NIOHTTP1

extension MetricsServer {
    /// What to answer, decided without I/O.
    struct Response: Equatable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: [UInt8]
        var extraHeaders: [String: String] = [:]
    }

    static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `GET /metrics`, `GET /healthz`; 404 for other paths, 405 for other methods on these two.
    static func route(method: HTTPMethod, uri: String, metrics: DaemonMetrics, staleAfter: Duration,
                      now: Date) -> Response {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        guard path == "/metrics" || path == "/healthz" else {
            return text(.notFound, "not found: GET /metrics or /healthz\n")
        }
        guard method == .GET else {
            var response = text(.methodNotAllowed, "method not allowed: use GET\n")
            response.extraHeaders = ["Allow": "GET"]
            return response
        }
        if path == "/metrics" {
            return Response(status: .ok, contentType: prometheusContentType, body: metrics.renderBytes())
        }
        return health(lastPassAge: metrics.lastPassAge(now: now), staleAfter: staleAfter)
    }

    /// 200 `ok` when the last pass finished within `staleAfter`; 503 `stale` after it, and 503
    /// `starting` before the first pass.
    static func health(lastPassAge: TimeInterval?, staleAfter: Duration) -> Response {
        let limit = staleAfter / .seconds(1)
        let limitField = #""staleAfterSeconds":\#(Int(limit))"#
        guard let age = lastPassAge else {
            return json(.serviceUnavailable, #"{"status":"starting",\#(limitField)}"#)
        }
        let stale = age > limit
        // Whole seconds; clamped so a wildly wrong clock cannot trap the conversion.
        let ageField = #""lastPassAgeSeconds":\#(Int(min(age, 1e12)))"#
        return json(stale ? .serviceUnavailable : .ok,
                    #"{"status":"\#(stale ? "stale" : "ok")",\#(ageField),\#(limitField)}"#)
    }

    private static func text(_ status: HTTPResponseStatus, _ body: String) -> Response {
        Response(status: status, contentType: "text/plain; charset=utf-8", body: Array(body.utf8))
    }

    private static func json(_ status: HTTPResponseStatus, _ body: String) -> Response {
        Response(status: status, contentType: "application/json", body: Array((body + "\n").utf8))
    }
}
