test('npm scripts run on Node.js 24, the Lambda runtime (node@24 devDependency)', () => {
  expect(process.versions.node.split('.')[0]).toBe('24');
});
