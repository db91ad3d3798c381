/// Quotes a name (a schema, say) for use as an SQL identifier.
///
/// Parameters cannot stand for identifiers, so a configurable schema name is quoted instead: the
/// name is wrapped in double quotes and every double quote in it doubled, which makes any text,
/// quotes and semicolons included, one identifier and nothing more.
public func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
