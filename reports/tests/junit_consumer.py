#!/usr/bin/env python3
"""A real JUnit consumer for flowgate's junit.xml.

Validates the file against the Jenkins/Surefire JUnit XSD (junit-10.xsd, vendored from
pytest's test suite under tests/xsd/) with `xmlschema`, reads it with `junitparser`,
and checks that the counts match what the caller expects.

usage: junit_consumer.py JUNIT_XML XSD TESTS FAILURES ERRORS SKIPPED
Exit 0 when valid and the counts match; 1 otherwise (with the reason on stderr).
Needs: pip install junitparser xmlschema
"""

import sys

import junitparser
import xmlschema


def main() -> int:
    if len(sys.argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    path, xsd = sys.argv[1], sys.argv[2]
    expected = dict(zip(("tests", "failures", "errors", "skipped"), map(int, sys.argv[3:7])))

    schema = xmlschema.XMLSchema(xsd)
    errors = list(schema.iter_errors(path))
    if errors:
        for e in errors:
            print(f"XSD: {e.reason} at {e.path}", file=sys.stderr)
        return 1

    xml = junitparser.JUnitXml.fromfile(path)
    counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in xml:
        suite_counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for case in suite:
            suite_counts["tests"] += 1
            for result in case.result:
                if isinstance(result, junitparser.Failure):
                    suite_counts["failures"] += 1
                elif isinstance(result, junitparser.Error):
                    suite_counts["errors"] += 1
                elif isinstance(result, junitparser.Skipped):
                    suite_counts["skipped"] += 1
            if not case.name:
                print(f"suite {suite.name}: a test case without a name", file=sys.stderr)
                return 1
            # classname is the scenario id: non-empty, no spaces (CI views key on it).
            if not case.classname or any(ch.isspace() for ch in case.classname):
                print(
                    f"suite {suite.name}: case {case.name} has classname {case.classname!r}",
                    file=sys.stderr,
                )
                return 1
        # The suite's own attributes must agree with its cases.
        for key in ("tests", "failures", "errors", "skipped"):
            declared = getattr(suite, key)
            if declared != suite_counts[key]:
                print(
                    f"suite {suite.name}: {key}={declared} but {suite_counts[key]} cases",
                    file=sys.stderr,
                )
                return 1
        for key in counted:
            counted[key] += suite_counts[key]

    for key in ("tests", "failures", "errors"):
        declared = getattr(xml, key)
        if declared != counted[key]:
            print(f"testsuites: {key}={declared} but {counted[key]} cases", file=sys.stderr)
            return 1

    print(
        "junit_consumer: valid against {}; tests={tests} failures={failures} errors={errors} skipped={skipped}".format(
            xsd.rsplit("/", 1)[-1], **counted
        )
    )
    if counted != expected:
        print(f"counts {counted} != expected {expected}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
