// Exports local:demo/shout by calling local:demo/upper, which the mesh links to another component.
import { toUpper } from 'local:demo/upper'

export const shout = {
  shout(msg) {
    return toUpper(msg) + '!'
  }
}
