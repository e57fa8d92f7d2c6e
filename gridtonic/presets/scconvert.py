"""A Microtonic preset as a SuperCollider file playing the kit on gridtonic's engine (engine/supertonic.scd).

The successor of the original's ``mtpreset2sc.lua``, without its bugs (Saw became Sine, unordered
keys): the values are the parsed preset's, the SynthDef per drum is chosen here by
synthdefs.def_name (the engine has one def per combination of discrete parameters), and the hit
message is the one gridtonic sends (synthdefs.voice_message), so ``~renderNRT`` in the file renders what
``gridtonic`` renders for the same hits and seed.
"""

from __future__ import annotations

from string import Template

from gridtonic import __version__
from gridtonic.core.session import MAX_TRACKS
from gridtonic.presets.kits import assignment
from gridtonic.presets.mtpreset import Drum, Preset
from gridtonic.sound import nrt, synthdefs

_HEAD = Template("""\
// ${name}: a Sonic Charge Microtonic kit for gridtonic's supertonic engine (engine/supertonic.scd),
// converted by gridtonic ${version} (${order}).
//
// Evaluate the whole file (the block in parentheses): the server boots, the defs are added and each
// drum plays once. Then: ~hit.(1); ~hit.(2, 0.5);  (track 1..${tracks}, velocity 0..1)
// ~renderNRT.("kit.wav", [[0, 1, 1.0], [0.5, 2, 0.8]], 2.0, 1, { "done".postln }) renders offline
// ([seconds, track, velocity] hits in time order, duration, noise seed), as `gridtonic` does, chokes
// included: a hit cuts the voice its choke group last started.
// The engine file is looked up at ~supertonicPath, else at the path below; set ~supertonicNoBoot = true
// before evaluating to define everything without booting the server.
// Each drum's def encodes its discrete parameters (oscWave, modMode, nFilMod, nEnvMod, nStereo and
// whether mix > 50): change those in gridtonic and convert again rather than editing them here.
(
~supertonicDefs = (~supertonicPath ? ${engine}).load;
~kit = [
""")

_TAIL = Template("""\
];
// /s_new for one hit of track i (1-based), at the head of the voice group 1
~hitMsg = { |i, vel = 1, node = -1|
	var d = ~kit[i - 1];
	[\\s_new, d[\\def], node, 0, ${group}] ++ d[\\args] ++ [\\vel, vel.asFloat, \\pan, d[\\pan].asFloat]
};
// the release ([/n_set gate 0]) of the voice a hit of track i cuts, if any; remembers node in chokes
~cutMsgs = { |chokes, i, node|
	var group = ~kit[i - 1][\\choke], cut;
	if(group.isNil) { [] } {
		cut = chokes[group];
		chokes[group] = node;
		if(cut.isNil) { [] } { [[\\n_set, cut, \\gate, 0]] }
	}
};
// the engine's setup: the voice group, then the global lowpass after it (it shapes the tone: keep it)
~setupMsgs = [[\\g_new, ${group}, 0, 0], [\\s_new, \\${lpf}, ${lpf_node}, 1, 0]];
~renderNRT = { |path, hits, duration, seed = 1, action|
	var needed = Set[\\${lpf}, \\${seed}] ++ hits.collect { |h| ~kit[h[1] - 1][\\def] };
	var defs = ~supertonicDefs.select { |d| needed.includes(d.name.asSymbol) };
	var chokes = ();
	var score = Score([
		[0.0] ++ defs.collect { |d| [\\d_recv, d.asBytes] } ++ ~setupMsgs
			++ [[\\s_new, \\${seed}, ${seed_node}, 0, 0, \\seed, seed]]
	] ++ hits.collect { |h, n|
		var node = ${first_node} + n;
		[h[0].asFloat] ++ ~cutMsgs.(chokes, h[1], node) ++ [~hitMsg.(h[1], h[2], node)]
	}
	++ [[duration.asFloat, [\\c_set, 0, 0]]]);
	score.recordNRT(nil, path, nil, 48000, "WAV", "float",
		ServerOptions.new.numOutputBusChannels_(2).verbosity_(-1), "", duration, action);
};
~chokes = ();
~hit = { |i, vel = 1|
	var node = s.nextNodeID, cuts = ~cutMsgs.(~chokes, i, node);
	if(cuts.notEmpty) { s.sendBundle(s.latency, [\\error, -1], *cuts) };  // the cut voice may be gone
	s.sendBundle(s.latency, ~hitMsg.(i, vel, node));
};
if(~supertonicNoBoot != true) {
	s.waitForBoot {
		~supertonicDefs.do(_.add);
		s.sync;
		~setupMsgs.do { |m| s.sendMsg(*m) };
		s.sync;
		~kit.size.do { |i| ~hit.(i + 1); 0.6.wait };
	};
};
)
""")


def _sc(value: float) -> str:
    """A float as an sclang literal that parses to the same double."""
    text = repr(float(value))
    return text if "e" not in text else f"{float(value):.17f}".rstrip("0")


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _drum(track: int, drum: Drum) -> str:
    args = synthdefs.synth_args(drum.patch)[:-4]  # the continuous parameters; vel and pan come per hit
    pairs = ", ".join(f"\\{args[i]}, {_sc(args[i + 1])}" for i in range(0, len(args), 2))
    choke = "nil" if drum.choke is None else str(drum.choke)
    return (f"\t// track {track}: drum {drum.key}, {drum.name}\n"
            f"\t(name: {_string(drum.name)}, def: \\{synthdefs.def_name(drum.patch)}, "
            f"pan: {_sc(drum.pan)}, choke: {choke},\n\t\targs: [{pairs}]),\n")


def scd(preset: Preset, order: str = "key", engine: str | None = None) -> str:
    """The .scd text for ``preset``'s drums in track order (tracks without a drum are skipped)."""
    drums = [d for d in assignment(preset, MAX_TRACKS, order) if d is not None]
    head = _HEAD.substitute(
        name=preset.name.replace("\n", " "), version=__version__, tracks=len(drums),
        order="drums in file order, as the original supertonic" if order == "file" else "drums by number",
        engine=_string(str(engine or synthdefs.SOURCE)),
    )
    tail = _TAIL.substitute(
        group=synthdefs.VOICE_GROUP, lpf=synthdefs.LPF_DEF, lpf_node=synthdefs.LPF_NODE,
        seed=synthdefs.SEED_DEF, seed_node=nrt.SEED_NODE, first_node=nrt.HIT_NODE,
    )
    return head + "".join(_drum(i + 1, d) for i, d in enumerate(drums)) + tail
