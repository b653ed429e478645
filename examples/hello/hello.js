// The smallest example: a world exporting one bare function.
export function helloWorld() {
  return 'Hello, World!'
}
