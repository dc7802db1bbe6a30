"""credgraph.viz"""
