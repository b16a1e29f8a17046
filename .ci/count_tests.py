"""Counts the test cases of one `bazel test` run from its build event file, and says where the count
and Bazel's own verdict disagree.

    tools/python.sh .ci/count_tests.py BUILD_EVENTS.json [--label NAME]

Reads only the test.xml files this run's events name (never leftovers in bazel-testlogs), and
counts each gtest case as passed, failed or skipped (GTEST_SKIP, or a disabled test). A target
that Bazel did not pass but whose XML shows no failing case (a crash or a sanitizer report after
the XML was written, a time-out, a test that never built) adds one failure, named; so does a
target whose XML has a failing case that Bazel passed. Prints the failing targets, then
"[NAME: ]P passed, F failed, S skipped", and exits 1 when anything failed or nothing passed.
"""
import argparse
import json
import sys
import urllib.parse
import xml.etree.ElementTree as ET


def read_events(path):
    with open(path) as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def xml_path(outputs):
    for o in outputs:
        if o.get("name") == "test.xml" and o.get("uri", "").startswith("file://"):
            return urllib.parse.unquote(urllib.parse.urlparse(o["uri"]).path)
    return None


def count_cases(path):
    """(passed, failed, skipped) of the test cases in one gtest XML file."""
    passed = failed = skipped = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.get("result") in ("skipped", "suppressed") or case.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("events", help="the file of bazel test --build_event_json_file")
    parser.add_argument("--label", default="", help="a name printed before the counts")
    args = parser.parse_args()

    verdict = {}     # test target -> Bazel's overall status
    xml_files = {}   # test target -> this run's test.xml files (one per shard and attempt)
    tests = set()    # every test target the run meant to run, built or not
    for event in read_events(args.events):
        ident = event.get("id", {})
        if "testSummary" in ident:
            verdict[ident["testSummary"]["label"]] = event["testSummary"].get("overallStatus", "NO_STATUS")
        elif "testResult" in ident:
            path = xml_path(event.get("testResult", {}).get("testActionOutput", []))
            if path:
                xml_files.setdefault(ident["testResult"]["label"], []).append(path)
        elif "targetCompleted" in ident and "testSize" in event.get("completed", {}):
            tests.add(ident["targetCompleted"]["label"])
        elif "targetCompleted" in ident and event.get("aborted") is not None:
            tests.add(ident["targetCompleted"]["label"])
    tests |= set(verdict)

    passed = failed = skipped = 0
    for label in sorted(tests):
        status = verdict.get(label, "NO_STATUS (not built or not run)")
        p = f = s = 0
        for path in xml_files.get(label, []):
            try:
                cp, cf, cs = count_cases(path)
            except (OSError, ET.ParseError) as e:
                cp, cf, cs = 0, 1, 0
                print(f"FAILED {label}: its test.xml {path} could not be read ({e})")
            p, f, s = p + cp, f + cf, s + cs
        if status == "PASSED" and f > 0:
            print(f"FAILED {label}: Bazel passed it, but its test.xml has {f} failing case(s)")
        elif status != "PASSED" and f == 0:
            f = 1
            print(f"FAILED {label}: Bazel says {status}, and no failing case in its test.xml says why")
        elif status != "PASSED":
            print(f"FAILED {label}: {f} failing case(s) ({status})")
        passed, failed, skipped = passed + p, failed + f, skipped + s

    prefix = f"{args.label}: " if args.label else ""
    print(f"{prefix}{passed} passed, {failed} failed, {skipped} skipped ({len(tests)} test targets)")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
