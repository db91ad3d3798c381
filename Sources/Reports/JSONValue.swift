import Foundation

/// Just enough JSON to write reports with their keys in a fixed order, which `JSONEncoder` does
/// not give, and with JSON's own types: numbers, booleans, and `null` for what is absent.
enum JSONValue {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case null
    /// Text that is JSON already (PostgreSQL's rendering of a jsonb value), written as it is.
    case raw(String)
    case array([JSONValue])
    /// Keys in the order written.
    case object([(String, JSONValue)])

    /// A string, or `null`.
    static func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
    /// A number, or `null`.
    static func number(_ value: (some BinaryInteger)?) -> JSONValue { value.map { .int(Int64($0)) } ?? .null }
    /// A boolean, or `null`.
    static func flag(_ value: Bool?) -> JSONValue { value.map(JSONValue.bool) ?? .null }

    /// The value as one CSV cell: text as it is, `null` empty.
    var cell: String {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .bool(let value): String(value)
        case .null: ""
        case .raw(let value): value
        case .array, .object: text()
        }
    }

    /// Compact JSON; with `indent`, an object or array per line level (for a person reading).
    func text(indent: String? = nil, depth: Int = 0) -> String {
        let (open, close, separator): (String, String, String) = indent.map { unit in
            let inner = String(repeating: unit, count: depth + 1), outer = String(repeating: unit, count: depth)
            return ("\n" + inner, "\n" + outer, ",\n" + inner)
        } ?? ("", "", ",")
        switch self {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .int(let value): return String(value)
        case .string(let value): return Self.quote(value)
        case .raw(let value): return value
        case .array(let values):
            return values.isEmpty ? "[]" : "[" + open + values.map { $0.text(indent: indent, depth: depth + 1) }.joined(separator: separator) + close + "]"
        case .object(let fields):
            return fields.isEmpty ? "{}" : "{" + open + fields.map { key, value in
                Self.quote(key) + (indent == nil ? ":" : ": ") + value.text(indent: indent, depth: depth + 1)
            }.joined(separator: separator) + close + "}"
        }
    }

    static func quote(_ value: String) -> String {
        let data = (try? JSONEncoder().encode(value)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
