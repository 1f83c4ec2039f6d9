"""The certification engine: what a run is, independent of the two doors into it (the
`credly-contract certify` command and the pytest plugin). :mod:`.settings` is its one typed
configuration, built once by either door."""
