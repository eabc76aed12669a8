"""The bookkeeping of the Python test scripts under tests/python: each test
reports its problems (none: passed), and the script ends with the summary
line "N passed, N failed, N skipped" that ./build.sh test reads."""

results = {"passed": 0, "failed": 0, "skipped": 0}


def report(name, problems, shown=20):
    if problems:
        results["failed"] += 1
        print("failed %s" % name)
        for p in problems[:shown]:
            print("    " + p)
    else:
        results["passed"] += 1
        print("passed %s" % name)


def skip(name, why):
    results["skipped"] += 1
    print("skipped %s (%s)" % (name, why))


def summary():
    """Prints the summary line; the script's exit status (1 if anything failed)."""
    print("%d passed, %d failed, %d skipped" % (results["passed"], results["failed"], results["skipped"]))
    return 1 if results["failed"] else 0
