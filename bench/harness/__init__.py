"""Runs cells: the plan, the cell's life (cgroups, sensor process, workload, drain),
the janitor that undoes everything, the machine's facts and the cost accounting.
"""
