package segment

import (
	"embed"
	"fmt"
	"slices"
)

//go:embed presets/*.yaml
var presetFS embed.FS

// presetNames lists the presets in the order PresetNames reports them.
var presetNames = []string{"value-tiers", "rfm8", "rfm11"}

// PresetNames returns the names Preset accepts.
func PresetNames() []string { return slices.Clone(presetNames) }

// Preset returns a built-in rule set by name: "value-tiers", "rfm8" or
// "rfm11". Each is the compiled form of the YAML that PresetYAML returns.
func Preset(name string) (*RuleSet, error) {
	b, err := PresetYAML(name)
	if err != nil {
		return nil, err
	}
	rs, err := ParseRuleSet(b)
	if err != nil {
		return nil, fmt.Errorf("preset %s: %w", name, err)
	}
	return rs, nil
}

// PresetYAML returns the YAML source of a built-in rule set, a starting point
// for a user-defined one.
func PresetYAML(name string) ([]byte, error) {
	if !slices.Contains(presetNames, name) {
		return nil, fmt.Errorf("preset %q (have %v): %w", name, presetNames, ErrUnknownPreset)
	}
	b, err := presetFS.ReadFile("presets/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("preset %q: %w", name, ErrUnknownPreset)
	}
	return b, nil
}
