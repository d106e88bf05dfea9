"""What people read, drawn from a results folder's read model (``bench.results.rundata``):
``charts`` (PNG + SVG, ``figure`` and ``style`` shared by all of them, ``overview`` the one
chart that answers the question at a glance), ``html`` (the self-contained report.html),
``markdown`` (the page ``make reference`` publishes) and ``resolution`` (what the run's
controls say the machine could resolve). ``bench.publish`` writes them all, with the CI
exports.
"""
