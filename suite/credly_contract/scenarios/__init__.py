"""Recorded cassette scenarios: readable stories of the rules, recorded with
`credly-contract record` and replayed offline by `credly-contract certify --target replay`."""
