// Package docs holds no code: its tests run the walkthroughs of
// docs/local-stack.md and docs/application-tokens.md against the local
// stack, command block by command block, and compare what each prints with
// what the page shows, so that a page cannot drift from the code.
package docs
