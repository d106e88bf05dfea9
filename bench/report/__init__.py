"""What people read, drawn from a results folder's read model (``bench.results.rundata``):
``charts`` (PNG + SVG, ``figure`` and ``style`` shared by all of them, ``overview`` the one
chart that answers the question at a glance), and the tables, each section built once as
data (``present`` the model, ``columns`` and ``sections`` the builders, ``ranking`` the
sentences that rank backends, ``comparison`` what ``compare`` shows) and rendered by
``html`` (the self-contained report.html), ``markdown`` (the page ``make reference``
publishes) and ``terminal`` (what ``run`` and ``compare`` print). ``bench.publish``
writes the files, with the CI exports.
"""
