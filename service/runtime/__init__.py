"""The runtime: settings, the clock, storage and its partitions, wiring (bootstrap), and the
processes that keep views, policies and jobs moving (processing, scheduler). Nothing here
decides a business rule; it builds and drives what does."""
