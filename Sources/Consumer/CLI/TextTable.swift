/// A plain aligned table for people reading a terminal: a header row, then one row per item.
public struct TextTable: Sendable {
    public var headers: [String]
    public var rows: [[String]]

    public init(_ headers: String...) {
        self.init(headers: headers)
    }

    public init(headers: [String], rows: [[String]] = []) {
        self.headers = headers
        self.rows = rows
    }

    public mutating func add(_ cells: String...) {
        rows.append(cells)
    }

    /// The table; with `maxWidth`, the last column's cells are cut to fit (ending in `…`), never below its
    /// header's width, so that every line is at most `maxWidth` characters when the other columns allow it.
    /// `indent` is the width of what each line will be prefixed with.
    public func render(maxWidth: Int? = nil, indent: Int = 0) -> String {
        var rows = self.rows
        if let maxWidth, let last = headers.indices.last {
            var others = 0
            for index in 0..<last {
                others += max(headers[index].count, rows.map { index < $0.count ? $0[index].count : 0 }.max() ?? 0) + 2
            }
            let room = max(headers[last].count, maxWidth - indent - others)
            for row in rows.indices where last < rows[row].count && rows[row][last].count > room {
                rows[row][last] = String(rows[row][last].prefix(room - 1)) + "…"
            }
        }
        return Self(headers: headers, rows: rows).renderAll()
    }

    private func renderAll() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                let last = index == cells.count - 1
                text += last ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 2)
            }
            return text
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}
