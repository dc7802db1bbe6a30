// Lints Cypher statements with Neo4j's own parser and semantic analysis.
// stdin: JSON array of {name, query}; stdout: JSON array of {name, diagnostics}.
const { lintCypherQuery } = require('@neo4j-cypher/language-support');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const statements = JSON.parse(input);
  const results = statements.map(({ name, query }) => {
    const linted = lintCypherQuery(query, {}, true);
    const diagnostics = (linted.diagnostics || linted).map((d) => ({
      message: d.message,
      severity: d.severity,
      line: d.range && d.range.start ? d.range.start.line : null,
    }));
    return { name, diagnostics };
  });
  process.stdout.write(JSON.stringify(results));
});
