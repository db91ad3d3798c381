/// `backfill --run` with a file of schools, for a run whose tenant no school of the file has:
/// the school's settings (its delete limit above all) cannot be applied.
public struct SchoolNotInFile: Error, CustomStringConvertible {
    public var runID: Int64
    public var tenant: String
    public var file: String
    public var schools: [String]

    public init(runID: Int64, tenant: String, file: String, schools: [String]) {
        self.runID = runID
        self.tenant = tenant
        self.file = file
        self.schools = schools
    }

    public var description: String {
        "run \(runID) is of tenant \"\(tenant)\", and no school of \(file) has that tenant (its schools: \(schools.joined(separator: ", "))): "
            + "its settings (max_deletes, deliver, ...) cannot be applied. Add the school to the file, or name it with --school"
    }
}
