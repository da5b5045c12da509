import AWSClient
import Foundation

extension LatticeSimulator {
    func handleRAM(_ route: Route, _ request: ServerRequest, requestId: String) -> ServerResponse {
        let now = configuration.now()
        do throws(SimulatorAPIError) {
            switch route.operation {
            case "GetResourceShareInvitations":
                let input = try decodeJSON(RAMWire.GetResourceShareInvitationsRequest.self, request.body)
                let maxResults = try Self.ramMaxResults(input.maxResults, code: "InvalidMaxResultsException")
                let page = try state.withLock { state throws(SimulatorAPIError) in
                    let all = try state.resourceShareInvitations(invitationArns: input.resourceShareInvitationArns,
                                                                 shareArns: input.resourceShareArns)
                    return try state.paginate(all, operation: route.operation, token: input.nextToken,
                                              maxResults: maxResults, invalidToken: Self.invalidNextToken(input.nextToken))
                }
                return jsonResponse(RAMWire.InvitationsPage(resourceShareInvitations: page.items.map(RAMWire.Invitation.init),
                                                            nextToken: page.nextToken), dates: .secondsSince1970, requestId: requestId)
            case "ListPendingInvitationResources":
                let input = try decodeJSON(RAMWire.ListPendingInvitationResourcesRequest.self, request.body)
                let maxResults = try Self.ramMaxResults(input.maxResults, code: "InvalidParameterException")
                let page = try state.withLock { state throws(SimulatorAPIError) in
                    let all = try state.pendingInvitationResources(invitationArn: input.resourceShareInvitationArn)
                        .filter { input.resourceRegionScope == nil || input.resourceRegionScope == "ALL"
                            || $0.resource.regionScope == input.resourceRegionScope }
                    return try state.paginate(all, operation: route.operation, token: input.nextToken,
                                              maxResults: maxResults, invalidToken: Self.invalidNextToken(input.nextToken))
                }
                return jsonResponse(RAMWire.ResourcesPage(resources: page.items.map(RAMWire.Resource.init), nextToken: page.nextToken),
                                    dates: .secondsSince1970, requestId: requestId)
            case "AcceptResourceShareInvitation", "RejectResourceShareInvitation":
                let input = try decodeJSON(RAMWire.InvitationResponseRequest.self, request.body)
                let invitation = try state.withLock { state throws(SimulatorAPIError) in
                    try state.respondToInvitation(arn: input.resourceShareInvitationArn,
                                                  accept: route.operation == "AcceptResourceShareInvitation",
                                                  clientToken: input.clientToken, now: now)
                }
                return jsonResponse(RAMWire.InvitationAnswer(resourceShareInvitation: RAMWire.Invitation(invitation),
                                                             clientToken: input.clientToken),
                                    dates: .secondsSince1970, requestId: requestId)
            case "GetResourceShares":
                let input = try decodeJSON(RAMWire.GetResourceSharesRequest.self, request.body)
                let maxResults = try Self.ramMaxResults(input.maxResults, code: "InvalidParameterException")
                let page = try state.withLock { state throws(SimulatorAPIError) in
                    let all = try state.resourceShares(owner: input.resourceOwner, shareArns: input.resourceShareArns,
                                                       status: input.resourceShareStatus, name: input.name)
                    return try state.paginate(all, operation: route.operation, token: input.nextToken,
                                              maxResults: maxResults, invalidToken: Self.invalidNextToken(input.nextToken))
                }
                return jsonResponse(RAMWire.SharesPage(resourceShares: page.items.map(RAMWire.ResourceShare.init),
                                                       nextToken: page.nextToken), dates: .secondsSince1970, requestId: requestId)
            case "ListResources":
                let input = try decodeJSON(RAMWire.ListResourcesRequest.self, request.body)
                let maxResults = try Self.ramMaxResults(input.maxResults, code: "InvalidParameterException")
                let page = try state.withLock { state throws(SimulatorAPIError) in
                    let all = try state.listResources(owner: input.resourceOwner, resourceType: input.resourceType,
                                                      resourceArns: input.resourceArns, shareArns: input.resourceShareArns)
                    return try state.paginate(all, operation: route.operation, token: input.nextToken,
                                              maxResults: maxResults, invalidToken: Self.invalidNextToken(input.nextToken))
                }
                return jsonResponse(RAMWire.ResourcesPage(resources: page.items.map(RAMWire.Resource.init), nextToken: page.nextToken),
                                    dates: .secondsSince1970, requestId: requestId)
            default:
                throw SimulatorAPIError(400, "UnknownOperationException", "\(route.operation) is not simulated")
            }
        } catch {
            return errorResponse(route, status: error.status, code: error.code, message: error.message, requestId: requestId)
        }
    }

    static func ramMaxResults(_ value: Int?, code: String) throws(SimulatorAPIError) -> Int? {
        guard let value else { return nil }
        guard (1...500).contains(value) else {
            throw SimulatorAPIError(400, code, "maxResults must be between 1 and 500, not \(value).")
        }
        return value
    }

    static func invalidNextToken(_ token: String?) -> SimulatorAPIError {
        SimulatorAPIError(400, "InvalidNextTokenException", "The specified value for nextToken is not valid.")
    }

    /// Decodes a rest-json body (empty means `{}`); a body of the wrong shape is a client error.
    func decodeJSON<Body: Decodable>(_ type: Body.Type, _ bytes: [UInt8]) throws(SimulatorAPIError) -> Body {
        do {
            return try JSONDecoder().decode(type, from: bytes.isEmpty ? Data("{}".utf8) : Data(bytes))
        } catch let DecodingError.typeMismatch(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw SimulatorAPIError(400, "SerializationException", "Unexpected type for field '\(field)'.")
        } catch {
            throw SimulatorAPIError(400, "SerializationException", "The request body is not a valid JSON document.")
        }
    }

    /// A 200 rest-json response.
    func jsonResponse(_ body: some Encodable, dates: JSONEncoder.DateEncodingStrategy, requestId: String) -> ServerResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = dates
        let data = (try? encoder.encode(body)) ?? Data("{}".utf8)
        return .respond(status: 200, headers: [ServerHeader("Content-Type", "application/json"),
                                               ServerHeader("x-amzn-RequestId", requestId)],
                        body: Array(data))
    }
}
