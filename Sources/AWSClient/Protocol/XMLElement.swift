import Foundation

/// One element of a parsed AWS XML response: a plain value tree, safe to pass between tasks.
public struct XMLElement: Sendable, Equatable {
    /// The local name, with any namespace prefix (`ec2:` in `ec2:item`) stripped.
    public var name: String
    /// Attributes by their name as written (prefixes kept, e.g. `xmlns`, `xsi:nil`), values entity-decoded.
    public var attributes: [String: String]
    /// Child elements in document order.
    public var children: [XMLElement]
    /// Entity-decoded character data directly inside this element, CDATA included.
    ///
    /// Leaf values are kept exactly; whitespace-only text between child elements (indentation) is dropped.
    public var text: String

    /// Creates an element; the parser builds these, tests build expected trees with it.
    public init(name: String, attributes: [String: String] = [:], children: [XMLElement] = [], text: String = "") {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// The first child element called `name`.
    public func child(_ name: String) -> XMLElement? {
        children.first { $0.name == name }
    }

    /// Every child element called `name`, in document order (e.g. the `item`s of a `vpcEndpointSet`).
    public func children(named name: String) -> [XMLElement] {
        children.filter { $0.name == name }
    }

    /// Walks down through the first child of each name: `path("Errors", "Error", "Code")`.
    public func path(_ names: String...) -> XMLElement? {
        var current = self
        for name in names {
            guard let next = current.child(name) else { return nil }
            current = next
        }
        return current
    }

    /// The text of the first child called `name`; `nil` when there is no such child.
    public func childText(_ name: String) -> String? {
        child(name)?.text
    }
}
