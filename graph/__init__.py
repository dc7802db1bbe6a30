"""credgraph.graph"""
