// Test methods run two at a time: the suites are CPU-bound and the build machines have
// few cores. Tests that measure memory or collect garbage opt out with [DoNotParallelize].
[assembly: Parallelize(Workers = 2, Scope = ExecutionScope.MethodLevel)]
