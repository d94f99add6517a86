package segmodel

import "encoding/json"

// jsonMarshal encodes without validation (to build invalid test inputs).
func jsonMarshal(m *Model) ([]byte, error) { return json.Marshal(m) }
