import Foundation

/// Just enough JSON to write reports with their keys in a fixed order, which `JSONEncoder` does not give.
enum JSONValue {
    case string(String)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    func text(keyOrder: [String]) -> String {
        switch self {
        case .null: return "null"
        case .string(let value): return Self.quote(value)
        case .array(let values): return "[" + values.map { $0.text(keyOrder: keyOrder) }.joined(separator: ",\n") + "]"
        case .object(let fields):
            let keys = keyOrder.filter { fields[$0] != nil } + fields.keys.filter { !keyOrder.contains($0) }.sorted()
            return "{" + keys.map { Self.quote($0) + ":" + fields[$0]!.text(keyOrder: keyOrder) }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ value: String) -> String {
        let data = (try? JSONEncoder().encode(value)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
