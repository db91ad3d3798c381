import APIConfiguration
import FileOutput
import Foundation
import Models
import Reconciliation
import Signing
import Yams

/// The configuration file of many schools (YAML): defaults, then one section per school.
///
/// ```yaml
/// defaults:
///   base_url: https://api.dreamclass.io/dreamclassapi/v1
///   settle: 15m
///   report_dir: /var/lib/dreamclass-reconcile/reports
/// schools:
///   my-school:
///     school_code: ABC123
///     api_key_file: /etc/dreamclass-reconcile/my-school.key
///     scope: current
/// ```
///
/// A school's setting wins over `defaults`; the environment wins over the file, and flags over
/// both. Secrets are never read from the file: a key that holds one is ignored with a warning.
public struct SettingsFile: Sendable {
    public let path: String
    /// Things worth a look that do not stop a run (a secret in the file, say).
    public private(set) var warnings: [String] = []
    private var defaults: [String: Setting] = [:]
    private var schools: [(name: String, values: [String: Setting])] = []

    /// The names of the schools, in file order.
    public var schoolNames: [String] { schools.map(\.name) }

    struct Setting: Sendable {
        enum Value: Sendable { case text(String), number(Double), flag(Bool), list([Int]) }
        var value: Value
        var line: Int
    }

    /// Keys a section may have, and what each takes.
    static let keys: [String: String] = [
        "base_url": "text", "school_code": "text", "tenant": "text", "api_key_file": "text",
        "scope": "text", "periods": "list", "settle": "text", "backfill": "flag", "max_deletes": "text",
        "deliver": "text", "deliver_user": "text", "deliver_password_file": "text", "webhook_secret_file": "text",
        "report_dir": "text", "concurrency": "number", "max_rps": "number", "max_creates": "text", "key_encoding": "text",
        "timeout": "number", "page_size": "number", "path_periods": "text", "path_period_students": "text",
        "path_student": "text", "deadline": "text", "read_attempts": "number", "max_attempts": "number",
        "max_retry_after": "number",
    ]
    /// Every key a section may have.
    public static var keyNames: [String] { keys.keys.sorted() }
    static let secretKeys: Set<String> = ["api_key", "webhook_secret", "deliver_password", "password", "secret"]

    /// Reads and checks the file at `path`; every problem is named at once, with its line and key.
    public static func load(path: String) throws(SettingsError) -> SettingsFile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SettingsError(file: path, message: "cannot be read")
        }
        return try parse(text, path: path)
    }

    /// Checks `text` as the file at `path` would be (for tests and `config check`).
    public static func parse(_ text: String, path: String) throws(SettingsError) -> SettingsFile {
        let (file, errors) = parseLeniently(text, path: path)
        if let error = SettingsError.combined(errors) { throw error }
        return file!
    }

    /// Every problem of the file at `path` and of each of its schools (the environment's
    /// included), for `config check`: one pass names them all, an unknown key beside a missing
    /// school code. Empty when every school can run.
    public static func check(path: String, environment: [String: String]) -> (file: SettingsFile?, problems: [SettingsError]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return (nil, [SettingsError(file: path, message: "cannot be read: check the path, and that this user may read it")])
        }
        let (file, errors) = parseLeniently(text, path: path)
        return (file, errors + (file?.problems(environment: environment) ?? []))
    }

    /// The file with every section it could read, and every problem it found; `nil` when it
    /// is not YAML of the right shape at all.
    private static func parseLeniently(_ text: String, path: String) -> (SettingsFile?, [SettingsError]) {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { return (nil, [SettingsError(file: path, message: "is empty")]) }
            root = node
        } catch {
            return (nil, [SettingsError(file: path, message: "is not valid YAML: \(error)")])
        }
        guard let top = root.mapping else { return (nil, [SettingsError(file: path, line: line(root), message: "must be a mapping with defaults and schools")]) }
        var file = SettingsFile(path: path)
        // Every problem of the file is collected, so that one check names them all.
        var errors: [SettingsError] = []
        for (keyNode, value) in top {
            let key = keyNode.string ?? ""
            switch key {
            case "defaults":
                file.defaults = file.section(value, prefix: "defaults", errors: &errors)
            case "schools":
                guard let mapping = value.mapping else {
                    errors.append(SettingsError(file: path, key: "schools", line: line(value), message: "must map school names to settings"))
                    continue
                }
                for (nameNode, section) in mapping {
                    let name = nameNode.string ?? ""
                    if name.isEmpty || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                        errors.append(SettingsError(file: path, key: "schools", line: line(nameNode), message: "a school's name must be non-empty text without control characters"))
                        continue
                    }
                    file.schools.append((name, file.section(section, prefix: "schools.\(name)", errors: &errors)))
                }
            default:
                errors.append(SettingsError(file: path, key: key, line: line(keyNode), message: "is not a setting (expected defaults or schools)"))
            }
        }
        if file.schools.isEmpty, errors.isEmpty { errors.append(SettingsError(file: path, key: "schools", message: "names no school")) }
        // Reports, metrics files and ping URLs are named after the school by one rule: two
        // names it maps alike would overwrite each other's.
        for (part, names) in Dictionary(grouping: file.schools.map(\.name), by: FileName.part) where names.count > 1 {
            errors.append(SettingsError(file: path, key: "schools", message: "\(names.map { "\"\($0)\"" }.joined(separator: ", ")) all become \"\(part)\" in "
                + "file names (reports, metrics, pings), where only letters, digits, - and _ stay: rename all but one"))
        }
        return (file, errors)
    }

    private mutating func section(_ node: Node, prefix: String, errors: inout [SettingsError]) -> [String: Setting] {
        guard let mapping = node.mapping else {
            errors.append(SettingsError(file: path, key: prefix, line: Self.line(node), message: "must be a mapping"))
            return [:]
        }
        var values: [String: Setting] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            let name = "\(prefix).\(key)"
            let line = Self.line(keyNode) ?? 0
            if Self.secretKeys.contains(key) {
                warnings.append("\(path):\(line): \(name) holds a secret, which is ignored here: use the environment or a *_file setting")
                continue
            }
            func problem(_ message: String) { errors.append(SettingsError(file: path, key: name, line: line, message: message)) }
            guard let kind = Self.keys[key] else {
                problem("is not a setting; known: \(Self.keys.keys.sorted().joined(separator: ", "))")
                continue
            }
            switch (kind, value) {
            case ("list", .sequence(let items)):
                let numbers = items.compactMap { $0.int }
                guard numbers.count == items.count else { problem("must be a list of period ids"); continue }
                values[key] = Setting(value: .list(numbers), line: line)
            case ("number", .scalar):
                guard let number = value.float, number.isFinite else { problem("must be a number"); continue }
                values[key] = Setting(value: .number(number), line: line)
            case ("flag", .scalar):
                guard let flag = value.bool else { problem("must be true or false"); continue }
                values[key] = Setting(value: .flag(flag), line: line)
            case ("text", .scalar(let scalar)):
                values[key] = Setting(value: .text(scalar.string), line: line)
            default:
                problem("must be a \(kind == "list" ? "list" : kind == "flag" ? "true or false" : kind)")
            }
        }
        return values
    }

    private static func line(_ node: Node) -> Int? { node.mark.map { $0.line } }

    /// One school's settings: the file's defaults, its section, then `environment` over them
    /// (flags go over all of it, in the command). Every value is checked here, against the same
    /// ranges as the environment's, and every problem of the school is named in one error.
    public func resolve(school name: String, environment: [String: String]) throws(SettingsError) -> SchoolSettings {
        guard let section = schools.first(where: { $0.name == name })?.values else {
            throw SettingsError(file: path, key: "schools.\(name)", message: "no such school; the file has \(schoolNames.joined(separator: ", "))")
        }
        let merged = defaults.merging(section) { $1 }
        var errors: [SettingsError] = []
        func place(_ key: String) -> String { (section[key] != nil ? "schools.\(name)." : "defaults.") + key }
        func problem(_ key: String, _ message: String) {
            errors.append(SettingsError(file: path, key: place(key), line: merged[key]?.line, message: message))
        }
        func text(_ key: String) -> String? { if case .text(let value)? = merged[key]?.value { return value }; return nil }
        func number(_ key: String) -> Double? { if case .number(let value)? = merged[key]?.value { return value }; return nil }
        /// A number of `range`; a whole one when the range is of integers.
        func checked<T: Comparable>(_ key: String, _ range: ClosedRange<T>, _ convert: (Double) -> T?) -> T? {
            guard let value = number(key) else { return nil }
            guard let converted = convert(value), range.contains(converted) else {
                problem(key, "must be \(T.self == Int.self ? "a whole number" : "a number") from \(range.lowerBound) to \(range.upperBound), not \(value)")
                return nil
            }
            return converted
        }
        func whole(_ key: String, _ range: ClosedRange<Int>) -> Int? { checked(key, range) { Int(exactly: $0) } }
        func real(_ key: String, _ range: ClosedRange<Double>) -> Double? { checked(key, range) { $0 } }
        func duration(_ key: String) -> Duration? {
            guard let value = text(key) else { return nil }
            guard let duration = parseDuration(value) else { problem(key, "takes 0, 90s, 15m, 2h or 1d, not \"\(value)\""); return nil }
            return duration
        }

        for key in ["base_url", "deliver"] {
            if let url = text(key), let message = EndpointURL.problem(url) { problem(key, message) }
        }
        var api = DreamClassConfiguration(
            baseURL: text("base_url") ?? DreamClassConfiguration.defaultBaseURL, apiKey: "",
            schoolCode: text("school_code") ?? "", tenant: text("tenant") ?? name
        )
        if let file = text("api_key_file") {
            do { api.apiKey = try DreamClassConfiguration.readSecret(file: file, setting: place("api_key_file")) } catch {
                problem("api_key_file", "\(error)")
            }
        }
        /// Where a setting the environment may override came from, in the user's words.
        func source(_ key: String, variable: String) -> String {
            if !(environment[variable] ?? "").isEmpty || !(environment[variable + "_FILE"] ?? "").isEmpty { return variable }
            return merged[key].map { "\(path):\($0.line): \(place(key))" } ?? "\(place(key)) (not set) or \(variable)"
        }
        api.credentialSource = "\(source("api_key_file", variable: "DREAMCLASS_API_KEY")) and \(source("school_code", variable: "DREAMCLASS_SCHOOL_CODE"))"
        if let value = text("path_periods") { api.paths.periods = value }
        if let value = text("path_period_students") { api.paths.periodStudents = value }
        if let value = text("path_student") { api.paths.student = value }
        if let value = whole("concurrency", Limits.concurrency) { api.concurrency = value }
        if let value = real("max_rps", Limits.requestsPerSecond) { api.requestsPerSecond = value }
        if let value = real("timeout", Limits.timeoutSeconds) { api.timeout = .seconds(value) }
        if let value = whole("page_size", Limits.pageSize) { api.pageSize = value }
        if let value = whole("max_attempts", Limits.attempts) { api.maxAttempts = value }
        if let value = whole("read_attempts", Limits.attempts) { api.readAttempts = value }
        if let value = real("max_retry_after", Limits.retryAfterSeconds) { api.maxRetryAfter = .seconds(value) }
        do { try api.apply(environment: environment) } catch {
            errors.append(SettingsError(file: "environment", message: "\(error)"))
        }

        var settings = SchoolSettings(name: name, api: api)
        if case .list(let ids)? = merged["periods"]?.value { settings.scope = .periods(ids) }
        switch text("scope") {
        case nil, "all"?: break
        case "current"?: settings.scope = .current
        case let other?: problem("scope", "takes all or current (or use periods: [...]), not \"\(other)\"")
        }
        if let value = duration("settle") { settings.settle = value }
        if let value = duration("deadline") {
            if value > .zero { settings.deadline = value } else { problem("deadline", "must be longer than 0") }
        }
        if case .flag(let flag)? = merged["backfill"]?.value { settings.backfill = flag }
        if let value = text("max_deletes") {
            if let limit = DeleteLimit(value) { settings.maxDeletes = limit } else { problem("max_deletes", "takes \(DeleteLimit.expected), not \"\(value)\"") }
        }
        if let value = text("max_creates") {
            if let guardValue = CreateGuard(value) { settings.createGuard = guardValue } else { problem("max_creates", "takes \(CreateGuard.expected), not \"\(value)\"") }
        }
        for (key, variable, missing) in [("api_key_file", "DREAMCLASS_API_KEY", api.apiKey.isEmpty), ("school_code", "DREAMCLASS_SCHOOL_CODE", api.schoolCode.isEmpty)]
            where missing && merged[key] == nil {
            errors.append(SettingsError(file: path, key: "schools.\(name).\(key)", message: "is not set, in the school's section, in defaults, or as \(variable) in the environment"))
        }
        settings.deliverURL = text("deliver")
        settings.deliverUser = text("deliver_user")
        settings.deliverPasswordFile = text("deliver_password_file")
        settings.webhookSecretFile = text("webhook_secret_file")
        if let value = text("report_dir") { settings.reportDirectory = value }
        if let value = text("key_encoding") {
            if let encoding = WebhookSignature.KeyEncoding(rawValue: value) { settings.keyEncoding = encoding } else {
                problem("key_encoding", "takes \(WebhookSignature.KeyEncoding.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(value)\"")
            }
        }
        if let error = SettingsError.combined(errors) { throw error }
        return settings
    }

    /// Every problem of every school (the environment's included); empty when all can run.
    public func problems(environment: [String: String]) -> [SettingsError] {
        schoolNames.flatMap { name -> [SettingsError] in
            do throws(SettingsError) {
                _ = try resolve(school: name, environment: environment)
                return []
            } catch {
                return error.all
            }
        }
    }

    /// The schools whose tenant is `tenant`, in file order (the tenant defaults to the school's name).
    public func schools(ofTenant tenant: String, environment: [String: String]) -> [String] {
        schools.filter { school in
            let environmentTenant = environment["DREAMCLASS_TENANT"].flatMap { $0.isEmpty ? nil : $0 }
            guard case .text(let value)? = (school.values["tenant"] ?? defaults["tenant"])?.value else { return (environmentTenant ?? school.name) == tenant }
            return (environmentTenant ?? value) == tenant
        }.map(\.name)
    }
}
