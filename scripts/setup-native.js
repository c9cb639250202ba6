console.log("[rlhf] native setup: not implemented yet")
