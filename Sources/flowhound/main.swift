print("flowhound")
