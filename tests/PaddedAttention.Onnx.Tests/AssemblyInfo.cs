// The model tests share one loaded model and are CPU-bound on few cores.
[assembly: Parallelize(Workers = 2, Scope = ExecutionScope.MethodLevel)]
