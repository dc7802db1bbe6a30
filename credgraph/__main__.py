from credgraph.cli import app

app()
