package faults

import "testing"

func TestArrivedClosesAtTheNthCall(t *testing.T) {
	var p Plan
	third := p.Arrived("UserInfo", 3)
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	p.Observe("UserInfo")
	p.Observe("AccessTokenList") // another operation does not count
	p.Observe("UserInfo")
	if closed(third) {
		t.Fatal("closed after two calls, want three")
	}
	p.Observe("UserInfo")
	if !closed(third) {
		t.Fatal("still open after the third call")
	}
	if !closed(p.Arrived("UserInfo", 2)) {
		t.Fatal("a count already reached must give a closed channel")
	}
	p.ResetCalls()
	again := p.Arrived("UserInfo", 1)
	if closed(again) {
		t.Fatal("closed before any call since ResetCalls")
	}
	p.Observe("UserInfo")
	if !closed(again) {
		t.Fatal("still open after the first call since ResetCalls")
	}
}
