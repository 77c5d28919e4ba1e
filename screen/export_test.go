package screen

// Test helpers for the external benchmark (package screen_test, which may
// import seal even once seal imports screen).
var (
	GenRows      = genRows
	PropertyList = propertyList
	KeyCols      = keyCols
)
