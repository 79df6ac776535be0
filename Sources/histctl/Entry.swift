@main
struct Main { static func main() { print("histctl: not built yet") } }
