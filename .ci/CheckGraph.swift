// Keeps the module graph one-way, from the edges to the core. Reads the output of
// `swift package describe --type json` on stdin; prints every breach and exits 1 when there is one.
// Run by `.ci/check-graph` (and so by `.ci/run`); see the README's "Layout".
import Foundation

struct Package: Decodable {
    struct Target: Decodable {
        var name: String
        var type: String
        var path: String
        var sources: [String]
        var target_dependencies: [String]?
        var product_dependencies: [String]?
        var dependencies: [String] { (target_dependencies ?? []) + (product_dependencies ?? []) }
    }
    var targets: [Target]
}

/// The allowed dependencies of every target: the tables of docs/architecture.md, one row per
/// target (`| \`Name\` | A, B | what |`). The page a newcomer reads is the rule CI enforces.
func allowedDependencies() throws -> [String: Set<String>] {
    let text = try String(contentsOfFile: "docs/architecture.md", encoding: .utf8)
    var table: [String: Set<String>] = [:]
    for line in text.split(separator: "\n") where line.hasPrefix("| `") {
        let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard cells.count >= 4 else { continue }
        let name = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
        let dependencies = cells[2] == "—" ? [] : cells[2].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if table[name] != nil { breaches.append("docs/architecture.md: \(name) has two rows") }
        table[name] = Set(dependencies)
    }
    return table
}
/// The core: none of it may reach I/O.
let core: Set<String> = ["TextCodec", "Models", "Reconciliation", "Reports", "Signing", "FileOutput"]
/// Modules that do I/O, and the libraries under them: none may be reachable from the core.
let inputOutput: Set<String> = [
    "CLibPQ", "Postgres", "PostgresServer", "EventStore", "DreamClassAPI", "DreamClassSimulator", "Receiver", "HTTPServing",
    "Monitoring", "ReconcileJob", "Backfill", "FleetJob", "DemoJob", "Settings", "AsyncHTTPClient", "Hummingbird", "HummingbirdCore", "NIOCore",
    "NIOPosix", "NIOSSL", "NIOHTTP1", "CMalloc", "MallocTuning",
]
/// Jobs orchestrate; only the command-line tools, the tests and the fleet (which runs jobs) sit above them.
let jobs: Set<String> = ["ReconcileJob", "Backfill", "FleetJob", "DemoJob"]
/// Where SQL may be written.
let sqlModules: Set<String> = ["EventStore", "Postgres"]
/// Modules of the toolchain, importable without a declared dependency.
let toolchain: Set<String> = ["Foundation", "FoundationEssentials", "Glibc", "Musl", "Darwin", "Dispatch", "Synchronization", "Testing", "XCTest", "PackagePlugin"]

var breaches: [String] = []
let package = try JSONDecoder().decode(Package.self, from: FileHandle.standardInput.readDataToEndOfFile())
let byName = Dictionary(uniqueKeysWithValues: package.targets.map { ($0.name, $0) })
let allowed = try allowedDependencies()

func closure(of name: String) -> Set<String> {
    var seen: Set<String> = []
    var stack = byName[name]?.dependencies ?? []
    while let next = stack.popLast() {
        guard seen.insert(next).inserted else { continue }
        stack += byName[next]?.dependencies ?? []
    }
    return seen
}

for target in package.targets.sorted(by: { $0.name < $1.name }) {
    guard let permitted = allowed[target.name] else {
        breaches.append("\(target.name) has no row in docs/architecture.md: add one, with what it depends on and why it exists")
        continue
    }
    let actual = Set(target.dependencies)
    for dependency in actual.subtracting(permitted).sorted() {
        breaches.append("\(target.name) depends on \(dependency), which its row in docs/architecture.md does not allow")
    }
    for dependency in permitted.subtracting(actual).sorted() {
        breaches.append("\(target.name)'s row in docs/architecture.md names \(dependency), which it does not depend on: correct the row")
    }
}
for name in allowed.keys.sorted() where byName[name] == nil {
    breaches.append("docs/architecture.md has a row for \(name), which is no target")
}
for name in core.sorted() {
    for reached in closure(of: name).intersection(inputOutput).sorted() {
        breaches.append("\(name) reaches \(reached), which does I/O")
    }
}
// The tests' support library runs jobs as the tests do.
for target in package.targets where target.type == "library" && !jobs.contains(target.name) && target.name != "TestSupport" {
    for dependency in target.dependencies where jobs.contains(dependency) {
        breaches.append("\(target.name) depends on the job \(dependency): a job is wired by the command line, never depended on")
    }
}
for target in package.targets where target.type != "executable" && target.dependencies.contains("MallocTuning") {
    breaches.append("\(target.name) depends on MallocTuning: allocator tuning is the executables' choice")
}

let sqlPattern = try NSRegularExpression(pattern: #"\b(SELECT\s|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|COPY\s|VACUUM|CREATE\s+(TEMPORARY\s+)?TABLE)"#)
for target in package.targets where target.type != "plugin" && target.type != "system-target" {
    let declared = Set(target.dependencies)
    for source in target.sources where source.hasSuffix(".swift") {
        let path = target.path + "/" + source
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(separator: " ")
            if let index = words.firstIndex(of: "import"), index <= 1, index + 1 < words.count,
                words.prefix(index).allSatisfy({ $0.hasPrefix("@") })
            {
                let module = String(words[index + 1])
                if module != target.name, !declared.contains(module), !toolchain.contains(module) {
                    breaches.append("\(path):\(number + 1): imports \(module), which \(target.name) does not declare in Package.swift")
                }
            }
            if target.type != "test", !sqlModules.contains(target.name), target.path.hasPrefix("Sources/") {
                let text = String(line)
                if sqlPattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil {
                    breaches.append("\(path):\(number + 1): SQL outside the event store")
                }
            }
        }
    }
}

if breaches.isEmpty {
    print("module graph: one-way (\(package.targets.count) targets checked)")
} else {
    for breach in breaches { print("module graph: \(breach)") }
    exit(1)
}
