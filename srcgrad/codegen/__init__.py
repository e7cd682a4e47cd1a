"""The compiler: source -> fence -> normalize -> analyses -> reverse -> optimize -> emit."""
